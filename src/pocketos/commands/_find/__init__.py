"""The parts of find: its run state, the expression parser, the tests, the actions and the
output formats. The walk over the paths is :mod:`pocketos.commands.find`."""
