"""What the web dashboard reads, one module per job: ``plots`` (snapshot and updates),
``curves``, ``importance``, ``table`` (sorted, filtered pages), ``export`` (CSV), ``form``
(the new-study form's options) and ``grid`` (grid vs random distinct values)."""
