"""The mirror: what providers said, written in sets (raw objects, unified records, events).

Pull sync (``sync/engine.py``) and push outcomes (``push/service.py``) both store provider
objects through ``mirror.store``; each keeps its own orchestration.
"""
