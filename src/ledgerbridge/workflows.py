"""Every capability's DBOS workflows, imported so that DBOS registers them before launch."""
