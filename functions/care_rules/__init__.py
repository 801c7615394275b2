"""The care_rules function."""
