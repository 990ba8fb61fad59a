"""Tools for the election authority and the technician."""
