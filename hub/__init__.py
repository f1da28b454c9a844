"""casahub daemon shell."""
