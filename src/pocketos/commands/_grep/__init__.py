"""The parts of grep and rg: settings, the matcher, file selection and the search."""
