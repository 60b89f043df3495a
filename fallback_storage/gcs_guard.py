def handles(storage): return False
