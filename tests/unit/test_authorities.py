"""The local authorities of England and Wales: the shipped table, reading an ONS file, what a
refresh changes, and ``sgb authorities refresh``."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from broker.entrypoints.authorities_cli import app
from broker.entrypoints.cli import app as sgb
from broker.rules.authorities import (
    UPPER_TIER,
    Authority,
    AuthorityTableError,
    authority,
    changes,
    name_of,
    parse_ons,
    parse_table,
    render,
    table,
)

ONS_HEADER = "CTYUA24CD,CTYUA24NM,CTYUA24NMW,ObjectId\n"


class TestShippedTable:
    def test_every_authority_with_childrens_services(self) -> None:
        """153 English and 22 Welsh authorities: the count after the 2023 reorganisations."""
        nations = [a.nation for a in table().authorities.values()]
        assert (nations.count("ENG"), nations.count("WLS")) == (153, 22)

    @pytest.mark.parametrize(
        ("code", "name"),
        [
            ("E06000063", "Cumberland"),
            ("E06000064", "Westmorland and Furness"),
            ("E06000065", "North Yorkshire"),
            ("E06000066", "Somerset"),
            ("E06000053", "Isles of Scilly"),
            ("E09000001", "City of London"),
            ("E10000003", "Cambridgeshire"),
            ("E08000025", "Birmingham"),
            ("W06000015", "Cardiff"),
        ],
    )
    def test_names_each_tier_and_the_2023_authorities(self, code: str, name: str) -> None:
        """Counties, unitaries, metropolitan districts, London boroughs with the City, the
        Isles of Scilly, Welsh principal councils, and the authorities made in 2023."""
        assert name_of(code) == name

    @pytest.mark.parametrize(
        "code", ["E10000006", "E10000023", "E10000027", "E07000026", "S12000033", "E09000099"]
    )
    def test_abolished_districts_and_other_nations_are_not_in_it(self, code: str) -> None:
        """Cumbria, North Yorkshire and Somerset county councils (gone in 2023), a district,
        a Scottish council and the partnership's fictional test area are not in the table."""
        assert authority(code) is None

    def test_every_code_is_upper_tier_of_its_nation(self) -> None:
        """Each code's prefix is an upper-tier entity, and the nation follows it."""
        for code, found in table().authorities.items():
            assert UPPER_TIER[code[:3]] == found.nation

    def test_says_where_it_came_from_and_when(self) -> None:
        """The file's header names its source and its date."""
        assert "uk_local_authority_names_and_codes" in table().source
        assert table().dated == "2025-07-10"

    def test_no_code_is_no_authority(self) -> None:
        """A move with no destination names no authority."""
        assert authority(None) is None


class TestParseOns:
    @pytest.mark.parametrize(
        ("row", "kept"),
        [
            ("E06000066,Somerset,,1", Authority("E06000066", "Somerset", "ENG")),
            ("E08000025,Birmingham,,2", Authority("E08000025", "Birmingham", "ENG")),
            ("E09000001,City of London,,3", Authority("E09000001", "City of London", "ENG")),
            ("E10000003,Cambridgeshire,,4", Authority("E10000003", "Cambridgeshire", "ENG")),
            ("W06000015,Cardiff,Caerdydd,5", Authority("W06000015", "Cardiff", "WLS")),
            ("E07000026,Allerdale,,6", None),
            ("S12000033,Aberdeen City,,7", None),
            ("N09000003,Belfast,,8", None),
        ],
        ids=[
            "unitary",
            "metropolitan",
            "city_of_london",
            "county",
            "wales",
            "district",
            "scotland",
            "northern_ireland",
        ],
    )
    def test_keeps_upper_tier_england_and_wales(self, row: str, kept: Authority | None) -> None:
        """Upper-tier authorities of England and Wales are kept, in English; districts,
        Scotland and Northern Ireland are not."""
        found = parse_ons(ONS_HEADER + row + "\n")
        assert list(found.values()) == ([kept] if kept else [])

    def test_reads_any_years_columns_and_a_byte_order_mark(self) -> None:
        """An upper tier file of another year, saved by Excel with a byte order mark."""
        found = parse_ons("\ufeffUTLA22CD,UTLA22NM\nW06000023,Powys\n")
        assert found == {"W06000023": Authority("W06000023", "Powys", "WLS")}

    def test_a_file_without_ons_columns_is_refused(self) -> None:
        """A file that is not an ONS names-and-codes CSV is refused, saying why."""
        with pytest.raises(AuthorityTableError, match="ending in CD"):
            parse_ons("code,name\nW06000023,Powys\n")


class TestChanges:
    def test_added_removed_and_renamed(self) -> None:
        """A refresh reports each authority added, removed and renamed, by code."""
        old = {
            "E10000006": Authority("E10000006", "Cumbria", "ENG"),
            "W06000016": Authority("W06000016", "Rhondda Cynon Taff", "WLS"),
        }
        new = {
            "E06000063": Authority("E06000063", "Cumberland", "ENG"),
            "W06000016": Authority("W06000016", "Rhondda Cynon Taf", "WLS"),
        }
        assert changes(old, new).lines() == [
            "added E06000063 Cumberland",
            "removed E10000006 Cumbria",
            "renamed W06000016 Rhondda Cynon Taff -> Rhondda Cynon Taf",
        ]


AUTHORITIES = st.dictionaries(
    st.from_regex(r"(E06|E08|E09|E10|W06)[0-9]{6}", fullmatch=True),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1).filter(
        lambda name: name.strip() == name and name
    ),
    max_size=20,
)


class TestDataFile:
    @given(AUTHORITIES)
    def test_what_is_written_reads_back(self, named: dict[str, str]) -> None:
        """Any table, with any names (commas, quotes, Welsh letters), reads back as written,
        with its source and date."""
        written = {c: Authority(c, n, UPPER_TIER[c[:3]]) for c, n in named.items()}
        read = parse_table(render(written, "ons.csv", "2024-12-01"))
        assert (read.authorities, read.source, read.dated) == (written, "ons.csv", "2024-12-01")

    def test_a_row_without_a_nation_is_refused(self) -> None:
        """A hand-edited row with no nation is refused, naming its line."""
        with pytest.raises(AuthorityTableError, match="line 2"):
            parse_table("code,name,nation\nW06000023,Powys,\n")


class TestRefreshCommand:
    def test_writes_the_table_and_prints_what_changed(self, tmp_path: Path) -> None:
        """``sgb authorities refresh --from`` writes the data file, with the ONS file as its
        source, and prints each change and the counts."""
        to = tmp_path / "authorities.csv"
        to.write_text(
            render({"E10000006": Authority("E10000006", "Cumbria", "ENG")}, "old", "2022-12-01")
        )
        ons = tmp_path / "CTYUA_DEC_2024_UK_NC.csv"
        ons.write_text(ONS_HEADER + "E06000063,Cumberland,,1\nW06000015,Cardiff,Caerdydd,2\n")
        result = CliRunner().invoke(
            app, ["refresh", "--from", str(ons), "--date", "2024-12-01", "--to", str(to)]
        )
        assert result.exit_code == 0, result.output
        assert result.output.splitlines() == [
            "added E06000063 Cumberland",
            "added W06000015 Cardiff",
            "removed E10000006 Cumbria",
            "2 authorities: 1 in England, 1 in Wales",
        ]
        written = parse_table(to.read_text())
        assert (written.source, written.dated) == ("CTYUA_DEC_2024_UK_NC.csv", "2024-12-01")
        assert written.authorities["W06000015"].nation == "WLS"

    def test_a_file_with_no_authority_leaves_the_table(self, tmp_path: Path) -> None:
        """An ONS file with no English or Welsh upper-tier authority is refused and the
        table is left as it was."""
        to = tmp_path / "authorities.csv"
        before = render({"W06000015": Authority("W06000015", "Cardiff", "WLS")}, "x", "2024")
        to.write_text(before)
        ons = tmp_path / "scotland.csv"
        ons.write_text(ONS_HEADER + "S12000033,Aberdeen City,,1\n")
        result = CliRunner().invoke(app, ["refresh", "--from", str(ons), "--to", str(to)])
        assert result.exit_code == 2
        assert to.read_text() == before


class TestSgbAuthorities:
    def test_sgb_shows_an_authority_by_code(self) -> None:
        """``sgb authorities show`` names the authority and its nation."""
        result = CliRunner().invoke(sgb, ["authorities", "show", "W06000015"])
        assert (result.exit_code, result.output) == (0, "W06000015\tCardiff\tWLS\n")

    def test_sgb_says_when_a_code_is_not_in_the_table(self) -> None:
        """A code not in the table is said to be so, with the table's date."""
        result = CliRunner().invoke(sgb, ["authorities", "show", "E09000099"])
        assert result.exit_code == 1
        assert "not in the table (dated 2025-07-10)" in result.output
