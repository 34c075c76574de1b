"""Rollout tracking: after a deployment commit, did Argo CD sync it, and did each stream's first
run on the new model succeed? The judgement is pure (``judge.py``); what Argo CD and Argo
Workflows report comes through a backend (``backend.py``): the Kubernetes API in a cluster, the
local runner's runs in the demo."""
