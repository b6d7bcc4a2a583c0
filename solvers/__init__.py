"""solvers: filled by later work."""
