"""Generated from db_data_2025_10.proto by `make proto`; do not edit."""
