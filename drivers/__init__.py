"""casahub sensor drivers."""
