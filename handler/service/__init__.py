"""The merge handler: a webhook service that validates pull requests and deploys merges.

Event parser (events.py), signature check (signature.py), a durable job queue (queue.py), one
runner per job kind (validate_pr.py, deploy.py), a VCS client interface with its GitHub
implementation (vcs.py), git work (gitrepo.py), the HTTP app (app.py) and its worker
(worker.py). Verify, acknowledge fast, work asynchronously.
"""
