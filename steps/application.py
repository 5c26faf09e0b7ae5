"""Steps about the running shop (target local): storefront, orders, caching, resilience, security, tenancy."""
