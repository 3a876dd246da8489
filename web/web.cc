// The web library; servers are added beside this file.
