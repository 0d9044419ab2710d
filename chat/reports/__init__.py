"""Reports (issue 17): the figures a support lead reads, their charts and exports."""
