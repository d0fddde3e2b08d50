"""Reading and writing the register's file formats (CSV, JSON, JSON Lines)."""
