"""Experiments: each turns a dict of resolved parameters into a finished run folder."""
