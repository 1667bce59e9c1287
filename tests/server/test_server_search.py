"""Dataset and model search: filtered in the database on names, tasks and descriptions, every
word required, paginated, limited to the caller's projects; and the list pages' search boxes and
empty states."""

from __future__ import annotations


def _names(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [i["name"] for i in r.json()["items"]]


def test_dataset_and_model_search(users, project, dataset_zip, onnx_model):
    owner, stranger = users["owner"], users["stranger"]
    pid = project["id"]
    other = owner.post(
        "/api/projects",
        json={"name": "Lung CT", "task": "segmentation", "description": "nodules in chest CT"},
    ).json()
    for name, p in [("alpha set", pid), ("beta set", pid), ("gamma scans", other["id"])]:
        r = owner.post(
            f"/api/projects/{p}/datasets",
            files={"file": ("d.zip", dataset_zip, "application/zip")},
            data={"name": name},
        )
        assert r.status_code == 201, r.text
    for name, p, on in [("resnet 100%_done", pid, "ImageNet"), ("unet", other["id"], "LIDC")]:
        r = owner.post(
            f"/api/projects/{p}/weights",
            files={"file": ("m.onnx", onnx_model.read_bytes(), "application/octet-stream")},
            data={"name": name, "pretrained_on": on},
        )
        assert r.status_code == 201, r.text

    search = "/api/search/datasets"
    assert _names(owner.get(search)) == ["gamma scans", "beta set", "alpha set"]  # newest first
    assert _names(owner.get(search, params={"q": "SET"})) == ["beta set", "alpha set"]
    assert _names(owner.get(search, params={"q": "chest"})) == ["gamma scans"]  # description
    assert _names(owner.get(search, params={"q": "segmentation"})) == ["gamma scans"]  # task
    assert _names(owner.get(search, params={"q": "beta set"})) == ["beta set"]  # every word
    assert _names(owner.get(search, params={"task": "classification"})) == [
        "beta set",
        "alpha set",
    ]
    assert _names(owner.get(search, params={"project_id": other["id"]})) == ["gamma scans"]
    page = owner.get(search, params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 3 and [i["name"] for i in page["items"]] == ["alpha set"]
    assert page["items"][0]["project_name"] == "Phantoms"
    assert "yaml_path" not in page["items"][0] and "root_dir" not in page["items"][0]
    assert owner.get(search, params={"limit": 0}).status_code == 422
    assert stranger.get(search).json() == {"total": 0, "limit": 20, "offset": 0, "items": []}

    models = "/api/search/models"
    assert _names(owner.get(models, params={"q": "imagenet"})) == ["resnet 100%_done"]
    assert _names(owner.get(models, params={"q": "100%"})) == ["resnet 100%_done"]
    assert _names(owner.get(models, params={"q": "0%_d"})) == ["resnet 100%_done"]
    assert _names(owner.get(models, params={"q": "%"})) == ["resnet 100%_done"]  # no wildcard
    assert _names(owner.get(models, params={"q": "lung upload"})) == ["unet"]
    assert owner.get(models).json()["total"] == 2
    assert _names(stranger.get(models, params={"q": "unet"})) == []


def test_list_pages_have_search_boxes_and_empty_states(users, project):
    owner = users["owner"]
    home = owner.get("/").text
    assert 'role="search"' in home and "/static/search.js" in home
    assert 'data-empty="No projects yet' in home
    page = owner.get(f"/projects/{project['id']}").text
    assert 'data-search="datasets"' in page and 'data-search="models"' in page
    assert 'aria-label="Search datasets"' in page and 'aria-live="polite"' in page
    assert 'data-empty="No datasets yet' in page and 'data-empty="No models yet' in page
    base = owner.get("/tokens").text
    assert 'class="skip-link" href="#main"' in base and 'role="alert"' in base
