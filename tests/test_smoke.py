from tests.conftest import login


def test_api_contacts_roundtrip(client, two_tenants):
    a, b = two_tenants
    r = client.post(
        "/api/v1/contacts",
        base_url=a.base_url,
        headers=a.auth(),
        json={"first_name": "Ann", "email": "ann@x.io"},
    )
    assert r.status_code == 201, r.get_json()
    cid = r.get_json()["id"]
    r = client.get(f"/api/v1/contacts/{cid}", base_url=a.base_url, headers=a.auth())
    assert r.status_code == 200
    r = client.get(f"/api/v1/contacts/{cid}", base_url=b.base_url, headers=b.auth())
    assert r.status_code == 404
    r = client.get("/api/v1/contacts", base_url=a.base_url, headers=a.auth())
    assert [c["id"] for c in r.get_json()["items"]] == [cid]


def test_login(client, two_tenants):
    a, _ = two_tenants
    r = login(client, a)
    assert r.status_code == 302, r.get_data(as_text=True)
    r = client.get("/contacts", base_url=a.base_url)
    assert r.status_code == 200
