"""Reading large NB replies: the OVSDB client's reply framing and the reconcile sweep's read."""
