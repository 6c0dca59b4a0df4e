"""One session API over every artifact (filled in by the export work); the host loop is in loop.py."""
