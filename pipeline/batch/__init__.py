"""`counterwatch batch`: a day of recordings analysed by a pool of worker processes, with a ledger."""
