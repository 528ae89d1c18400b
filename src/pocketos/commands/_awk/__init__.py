"""The awk language: lexer, parser, compiler to Python code and runtime support."""
