"""Files → declared specs: find the YAML files, load them with positions on demand, validate
each document against the language, merge environments, resolve tasks against the Celery
registry, lint; the per-document step is ``document``, the per-tree step is ``tree``."""
