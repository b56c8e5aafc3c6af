def test_it_serves_the_home_page(client, letter):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Clean air for Riverside" in response.content


def test_health_says_ok_when_the_database_answers(client, db):
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_static_files_are_served(client):
    response = client.get("/static/undersigned.css")
    assert response.status_code == 200
