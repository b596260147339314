"""The front matter as a reader sees it: the chapter map, the line under each exercise, the table."""

from __future__ import annotations

from attnlib.teaching import exercise_catalogue

from .conftest import SCREENSHOTS

SCREENSHOTS.mkdir(parents=True, exist_ok=True)


def test_every_exercise_shows_its_difficulty_and_time_under_its_title(browser, base_url):
    page = browser.new_page()
    chapters = sorted({item.chapter for item in exercise_catalogue.CATALOGUE.values()})
    for chapter in chapters:
        page.goto(f"{base_url}{chapter}.html")
        page.wait_for_load_state("load")
        for label, item in exercise_catalogue.CATALOGUE.items():
            if item.chapter != chapter:
                continue
            exercise = page.locator(f"div.exercise[id='{label}']")
            assert exercise.count() == 1, f"{chapter}: no exercise {label}"
            # The line is the first thing after the title.
            first = exercise.locator("p.admonition-title + section > *").first
            assert "exercise-meta" in (first.get_attribute("class") or ""), f"{label}: no line under the title"
            assert first.inner_text().strip() == exercise_catalogue.meta_line(label)
            assert first.is_visible()
    page.goto(f"{base_url}notebooks/04_value_updates.html")
    page.locator("div.exercise[id='ex-value-mean']").screenshot(path=str(SCREENSHOTS / "front__exercise.png"))
    page.close()


def test_instructors_table_lists_every_exercise_with_a_link(browser, base_url):
    page = browser.new_page()
    page.goto(f"{base_url}book/instructors.html")
    page.wait_for_load_state("load")
    tables = page.locator("table.exercise-catalogue")
    assert tables.count() == 2, "the page should show the catalogue and its per-chapter totals"
    rows = tables.nth(0).locator("tbody tr")
    assert rows.count() == len(exercise_catalogue.CATALOGUE)
    for k, (label, item) in enumerate(exercise_catalogue.CATALOGUE.items()):
        link = rows.nth(k).locator("td").nth(1).locator("a")
        assert link.get_attribute("href").endswith(f"{item.chapter.split('/')[-1]}.html#{label}"), label
        assert link.inner_text().strip() and link.inner_text().strip() != label  # the exercise's own title
        assert rows.nth(k).locator("td").nth(5).inner_text().strip() == f"{item.minutes} min"
    tables.nth(0).screenshot(path=str(SCREENSHOTS / "front__instructors_table.png"))
    page.close()


def test_start_page_shows_the_numbered_chapter_map(browser, base_url):
    page = browser.new_page()
    page.goto(f"{base_url}book/start.html")
    page.wait_for_load_state("load")
    figure = page.locator("figure#fig-chapter-map")
    assert figure.count() == 1
    assert figure.locator("img").evaluate("img => img.complete && img.naturalWidth > 0"), "the map did not load"
    assert figure.locator(".caption-number").inner_text().strip().startswith("Fig.")
    cited = page.locator("article p a.reference.internal[href='#fig-chapter-map']")
    assert cited.count() >= 1 and cited.first.inner_text().strip().startswith("Fig."), "the text does not cite the map"
    figure.screenshot(path=str(SCREENSHOTS / "front__chapter_map.png"))
    page.close()
