DROP INDEX redemptions_voided;
