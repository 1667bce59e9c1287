"""REST API routers of the front-end, one module per resource; `ROUTERS` lists them all."""

from deephealth.server.api import admin, auth, datasets, jobs, models, predict, projects, viewers

ROUTERS = [
    auth.router,
    projects.router,
    datasets.router,
    models.router,
    jobs.router,
    predict.router,
    admin.router,
    viewers.router,
]
