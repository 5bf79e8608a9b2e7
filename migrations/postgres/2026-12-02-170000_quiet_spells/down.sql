DROP TABLE quiet_spells;
