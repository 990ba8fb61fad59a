"""The election's chain of trust: certificates, signed files, wrapped keys."""
