"""The parts of sed: the script model and parser, the runner and its fast paths."""
