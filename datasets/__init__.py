"""datasets: filled by later work."""
