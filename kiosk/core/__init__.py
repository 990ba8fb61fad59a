"""Pure domain logic: no screen, no hardware, no network, no files."""
