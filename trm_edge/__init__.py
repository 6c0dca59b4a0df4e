"""trm-edge: train Tiny Recursive Models and run them on the edge. Importing this stays light."""
__version__ = "0.1.0"
