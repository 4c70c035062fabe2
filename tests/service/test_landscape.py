"""The error surface over the real service: POST computes it on a worker, GET returns
the line from the initial to the final weights, the grid around the final weights, and a PNG contour."""

from __future__ import annotations

from tests.stack import Stack, finished, wait_for, wait_for_landscape

SMALL = {"name": "iris-landscape", "dataset": {"name": "iris"}, "model": {"hidden": [16]}, "epochs": 15}


def test_a_finished_job_gets_its_loss_line_surface_and_contour_plot(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client, stack.client(stack.keys["bob"]) as bob:
        job = client.post("/v1/jobs", json=SMALL).json()
        long = client.post("/v1/jobs", json={**SMALL, "name": "still-running", "epochs": 2000}).json()
        unstarted = client.post("/v1/jobs", json={**SMALL, "name": "never-ran"}).json()
        client.post(f"/v1/jobs/{unstarted['id']}/cancel")
        wait_for(client, job["id"], finished)

        missing = client.get(f"/v1/jobs/{job['id']}/landscape")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "landscape_not_found"
        busy = client.post(f"/v1/jobs/{long['id']}/landscape")
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "job_not_finished", busy.text
        client.post(f"/v1/jobs/{long['id']}/cancel")
        wait_for(client, unstarted["id"], finished)
        if client.get(f"/v1/jobs/{unstarted['id']}").json()["progress"]["epoch"] == 0:
            no_weights = client.post(f"/v1/jobs/{unstarted['id']}/landscape")
            assert no_weights.status_code == 409 and no_weights.json()["error"]["code"] == "no_weights"

        requested = client.post(f"/v1/jobs/{job['id']}/landscape")
        assert requested.status_code == 202, requested.text
        assert requested.json()["status"] == "queued" and requested.json()["plot_url"] is None
        assert bob.post(f"/v1/jobs/{job['id']}/landscape").status_code == 404
        assert bob.get(f"/v1/jobs/{job['id']}/landscape").status_code == 404

        landscape = wait_for_landscape(client, job["id"])
        assert landscape["status"] == "ready", landscape["error"]
        line, surface = landscape["line"], landscape["surface"]
        assert 0.0 in line["alphas"] and 1.0 in line["alphas"] and len(line["alphas"]) == 31
        assert len(surface["xs"]) == len(surface["ys"]) == 21 and all(len(row) == 21 for row in surface["train_loss"])
        final = line["train_loss"][line["alphas"].index(1.0)]
        initial = line["train_loss"][line["alphas"].index(0.0)]
        centre = surface["train_loss"][10][10]
        assert abs(centre - final) <= 1e-5 * max(1.0, final), (centre, final)
        assert final < initial, "15 epochs of Adam lower the training loss from the initial weights"
        assert landscape["rows"] > 0 and landscape["seconds"] > 0 and landscape["finished_at"] is not None

        plot = client.get(landscape["plot_url"])
        assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
        assert plot.content.startswith(b"\x89PNG")
        assert bob.get(landscape["plot_url"]).status_code == 404
        again = client.post(f"/v1/jobs/{job['id']}/landscape")
        assert again.status_code == 200 and again.json()["line"] == line  # kept, not recomputed
