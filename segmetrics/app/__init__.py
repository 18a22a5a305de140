"""The folder-evaluation application built on the metric library: the ``segmetrics`` command and its parts.

* :mod:`~segmetrics.app.cli` — the command line (``eval``, ``plot``, ``stats``, ``table``, ``hce-picture``);
* :mod:`~segmetrics.app.config` — several methods × datasets from one JSON / TOML file;
* :mod:`~segmetrics.app.folder` — :func:`~segmetrics.app.folder.evaluate_folder`: pairing, workers,
  resuming, sharding and merging, dataset aggregation;
* :mod:`~segmetrics.app.pair` — the per-image step (read a pair, one fused pass, one record);
* :mod:`~segmetrics.app.journal` — the resumable journal and its CSV view;
* :mod:`~segmetrics.app.image_io` — reading maps and pairing files by stem;
* :mod:`~segmetrics.app.skeleton_cache` — the GT skeleton cache for HCE;
* :mod:`~segmetrics.app.report`, :mod:`~segmetrics.app.plot`, :mod:`~segmetrics.app.hce_picture` —
  tables, curves and HCE pictures;
* :mod:`~segmetrics.app.stats` — object complexity of a GT folder (``segmetrics stats``).

Which metrics exist, their options, keys, labels and dataset reductions come from the metric table
(:mod:`segmetrics.metric_table`); nothing here lists them again. Importing this package imports none
of its modules.
"""
