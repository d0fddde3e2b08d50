"""Use cases. Each runs in one unit of work and writes its audit event in the same
transaction; none of them knows about HTTP, terminals or SQL."""
