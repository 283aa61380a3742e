"""Launch scripts (launch/train.py); importing them does no work."""
