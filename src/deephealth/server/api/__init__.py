"""REST API routers of the front-end, one module per resource; `ROUTERS` lists them all."""

from deephealth.server.api import (
    admin,
    augment_preview,
    auth,
    compare,
    datasets,
    inference_results,
    jobs,
    models,
    predict,
    projects,
    viewers,
)

ROUTERS = [
    auth.router,
    projects.router,
    datasets.router,
    augment_preview.router,
    models.router,
    jobs.router,
    compare.router,
    predict.router,
    inference_results.router,
    admin.router,
    viewers.router,
]
