"""NetSuite: the SuiteQL reader over REST Web Services, its OAuth client and its platform object."""
