"""Jobs: customer requests, receipt of items (ISO/IEC 17025 7.4), assignment, fees."""
