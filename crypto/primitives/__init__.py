"""Number-theoretic primitives on gmpy2, beneath the high-level crypto surface."""
