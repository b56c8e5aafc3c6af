def test_it_serves_the_home_page(client, letter):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Clean air for Riverside" in response.content
