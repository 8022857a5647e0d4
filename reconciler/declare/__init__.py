"""Files → declared specs. ``tree`` is the whole phase over a schedules tree: find the files
(``files``), load each (``load`` over ``safe_yaml``; ``positions`` on demand), validate one
document on its own (``document``: the ``language`` models, their ``fields`` and ``cron``,
``environments``, ``problems`` pointed at their keys), check across files (``across``),
resolve tasks against the Celery registry (``resolve``, ``arguments``), lint (``lints``);
``cache`` and ``parallel`` make it fast."""
