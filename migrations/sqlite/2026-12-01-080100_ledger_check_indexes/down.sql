DROP INDEX stock_movements_stocktake;
DROP INDEX stock_movements_donation;
DROP INDEX redemption_lines_movement_once;
