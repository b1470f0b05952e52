"""Example machines: the seed's counter and more."""
