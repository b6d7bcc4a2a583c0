"""nlpmodels: filled by later work."""
