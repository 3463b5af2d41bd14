"""The topic: which film sequelwatch follows, as data read from one TOML file per film."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from config.errors import ConfigError, from_validation

_SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


def _check_pattern(pattern: str) -> str:
    """Refuse a regex that does not compile, or that has capitals (text is lowercased)."""
    try:
        re.compile(pattern)
    except re.error as err:
        raise PydanticCustomError(
            "regex", "a valid regular expression ({reason})", {"reason": str(err)}
        ) from err
    unescaped = re.sub(r"\\.|\(\?P[<=]", "", pattern)  # escapes and named groups
    if unescaped != unescaped.lower():
        raise PydanticCustomError(
            "regex_case", "a lowercase regular expression (text is lowercased before matching)"
        )
    return pattern


def _check_language(code: str) -> str:
    """Refuse a key of sequel_words that is not a language code (a misplaced table key)."""
    if not re.fullmatch(r"[a-z]{2,3}", code):
        raise PydanticCustomError("language", "a language code such as 'en' or 'pt'")
    return code


def _check_term(term: str) -> str:
    """Refuse a blank term: it would match everywhere or nowhere."""
    if not term.strip():
        raise PydanticCustomError("blank_term", "a non-blank term")
    return term


Term = Annotated[str, AfterValidator(_check_term)]
LanguageCode = Annotated[str, AfterValidator(_check_language)]
Pattern = Annotated[str, AfterValidator(_check_pattern)]


class FrozenWords(dict[str, tuple[str, ...]]):
    """Words per language code; hashable and read-only so that a Topic can be a cache key."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def __setitem__(self, key: str, value: tuple[str, ...]) -> None:
        raise TypeError("FrozenWords is read-only")

    def __delitem__(self, key: str) -> None:
        raise TypeError("FrozenWords is read-only")

    def __reduce__(self) -> tuple[type[FrozenWords], tuple[dict[str, tuple[str, ...]]]]:
        """Pickled as a plain dict rebuilt (a reader process gets the topic pickled)."""
        return (FrozenWords, (dict(self),))


def _freeze(words: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Wrap the validated mapping so that it hashes and cannot change."""
    return FrozenWords(words)


class FrozenCategories(dict[str, "Category"]):
    """Categories by name; hashable and read-only so that a Topic can be a cache key."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def __setitem__(self, key: str, value: Category) -> None:
        raise TypeError("FrozenCategories is read-only")

    def __delitem__(self, key: str) -> None:
        raise TypeError("FrozenCategories is read-only")

    def __reduce__(self) -> tuple[type[FrozenCategories], tuple[dict[str, Category]]]:
        """Pickled as a plain dict rebuilt, like FrozenWords."""
        return (FrozenCategories, (dict(self),))


def _freeze_categories(categories: dict[str, Category]) -> dict[str, Category]:
    """Wrap the validated mapping so that it hashes and cannot change."""
    return FrozenCategories(categories)


CategoryName = Annotated[str, StringConstraints(pattern=_SLUG)]
Words = Annotated[dict[LanguageCode, tuple[Term, ...]], AfterValidator(_freeze)]


class TrapGroup(BaseModel):
    """Patterns that signal an article about something other than the sequel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_SLUG)
    about: str = ""
    patterns: tuple[Pattern, ...] = Field(min_length=1)
    # False for what sequel news mentions as context (the Avatar schedule): such sentences
    # do not count against an article whose title names the sequel.
    counts_in_sequel_news: bool = True
    # In a sentence that names the sequel, these say it draws on what the trap names ("the
    # sequel is understood to draw on the Motorball chapters of the manga"): no trap there.
    lifted_by: tuple[Pattern, ...] = ()

    @field_validator("patterns")
    @classmethod
    def _patterns_combine(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        """Refuse patterns that compile alone but not together (a repeated group name)."""
        try:
            re.compile("|".join(f"(?:{pattern})" for pattern in patterns))
        except re.error as err:
            raise PydanticCustomError(
                "regex", "patterns that combine into one regex ({reason})", {"reason": str(err)}
            ) from err
        return patterns


class RelevanceSettings(BaseModel):
    """Thresholds and weights used by pipeline.relevance.judge."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead_sentences: int = Field(default=3, ge=1)
    # a newsletter or recap greets its readers first: the sequel named outright within this
    # many sentences anchors the article as a franchise name in its title would (0: never)
    opening_sentences: int = Field(default=0, ge=0)
    title_weight: float = Field(default=0.4, ge=0.0, le=1.0)
    anchor_weight: float = Field(default=0.2, ge=0.0, le=1.0)
    lead_weight: float = Field(default=0.2, ge=0.0, le=1.0)
    body_weight: float = Field(default=0.4, ge=0.0, le=1.0)
    full_share: float = Field(default=0.3, gt=0.0, le=1.0)
    support_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    trap_penalty: float = Field(default=0.6, ge=0.0)
    min_sequel_sentences: int = Field(default=2, ge=1)
    keep_score: float = Field(default=0.5, ge=0.0, le=1.0)


class Category(BaseModel):
    """What earns an article one category: its words, patterns and names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    about: str = ""
    terms: Words = Field(default_factory=FrozenWords)  # each counts term_weight
    patterns: tuple[Pattern, ...] = ()  # each counts term_weight
    # like patterns, but they say the category outright only in a sentence that says no
    # other category outright: a date beside "filming starts" is the shoot's
    lone_patterns: tuple[Pattern, ...] = ()
    hints: Words = Field(default_factory=FrozenWords)  # each counts hint_weight
    hint_patterns: tuple[Pattern, ...] = ()  # each counts hint_weight
    people: tuple[Term, ...] = ()  # each counts name_weight
    places: tuple[Term, ...] = ()  # each counts name_weight
    # this category's weight of a name, when not [classify] name_weight
    name_weight: float | None = Field(default=None, ge=0.0)
    # this category's weight of one of its places, when not its name_weight: where a
    # story is set says more of it than who is in it, whom a casting line names as a role
    place_weight: float | None = Field(default=None, ge=0.0)
    # how many of its names make a sentence say it outright: two for most (a sentence
    # naming Cameron is not yet about production), one where a name is the subject
    # itself (a sentence naming Zalem or Hugo speaks of the story)
    names_outright: int = Field(default=2, ge=1)


class ClassifySettings(BaseModel):
    """Weights and thresholds used by pipeline.classify."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    term_weight: float = Field(default=1.0, ge=0.0)
    hint_weight: float = Field(default=0.5, ge=0.0)
    name_weight: float = Field(default=0.5, ge=0.0)
    min_sentence_score: float = Field(default=1.0, gt=0.0)
    alias_factor: float = Field(default=1.2, ge=0.0)
    support_factor: float = Field(default=0.7, ge=0.0)
    title_factor: float = Field(default=2.0, ge=0.0)
    lead_factor: float = Field(default=1.5, ge=0.0)
    min_score: float = Field(default=1.0, ge=0.0)
    share_of_top: float = Field(default=0.5, ge=0.0, le=1.0)
    # ... or when it weighs side_score: one clear sentence of a side subject ("Rodriguez
    # has said the sequel would go up to Zalem") in a long article about another one
    side_score: float | None = Field(default=None, ge=0.0)
    # how a sentence that speaks for several categories shares its weight: 1 in proportion
    # to what it says for each, 0 not at all (each category gets the whole sentence)
    split_power: float = Field(default=1.0, ge=0.0, le=2.0)
    half_confidence: float = Field(default=2.0, gt=0.0)
    # a sentence that names neither the sequel nor its people but follows one that does
    # ("The studio has moved the release to 2031.") carries on its subject: it counts,
    # times context_factor, within context_span sentences of it; 0 turns this off
    context_span: int = Field(default=2, ge=0, le=10)
    context_factor: float = Field(default=0.6, ge=0.0)
    # any other sentence of a kept article that hits no trap ("La ficha sitúa el estreno en
    # 2031.", three paragraphs on) counts times distant_factor; 0 turns this off
    distant_factor: float = Field(default=0.0, ge=0.0)
    # the earlier film: a sentence that hits one of these and does not name the sequel
    # (by name or a sequel word) is about the earlier film and earns nothing
    earlier_film: tuple[Pattern, ...] = ()
    # declining to speak of a subject says nothing of it ("the studio declined to comment on
    # casting"): a sentence that hits one of these is evidence of no category
    declines: tuple[Pattern, ...] = ()


class StatusRule(BaseModel):
    """One normalised status and the phrases that state it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str = Field(min_length=1)
    patterns: tuple[Pattern, ...] = Field(min_length=1)
    # a negation or hedge just before the phrase ("has not", "may") cancels it
    negatable: bool = True


class WindowRule(BaseModel):
    """One normalised release window ('{year}' filled from the phrase) and its phrases."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str = Field(min_length=1)
    patterns: tuple[Pattern, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _year_group(self) -> WindowRule:
        """Refuse a '{year}' value whose patterns lack the (?P<year>...) group to fill it."""
        if "{year}" in self.value:
            missing = [p for p in self.patterns if "year" not in re.compile(p).groupindex]
            if missing:
                raise PydanticCustomError(
                    "year_group",
                    "patterns with a (?P<year>...) group for '{{year}}' (missing in {pattern})",
                    {"pattern": missing[0]},
                )
        return self


class FactVocabulary(BaseModel):
    """The phrases pipeline.facts reads typed facts with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    windows: tuple[WindowRule, ...] = ()
    cast: tuple[StatusRule, ...] = ()  # first match wins: put denials before returns
    production: tuple[StatusRule, ...] = ()
    roles: tuple[Term, ...] = ()  # characters a cast member can play
    role_cues: Words = Field(default_factory=FrozenWords)  # "as", "play", "nei panni di"
    negations: tuple[Pattern, ...] = ()
    denials: tuple[Pattern, ...] = ()  # a denial in the sentence cancels negatable statuses
    other_films: tuple[Pattern, ...] = ()  # a date beside these is another film's
    # a date after these in its clause is when the film is made ("the shoot slipped into
    # 2030"), not when it comes out
    making: tuple[Pattern, ...] = ()
    earliest_year: int | None = None  # release years before this are the earlier film's


class Topic(BaseModel):
    """One followed film: its names, the words around it, and what is not about it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    slug: str = Field(pattern=_SLUG)
    aliases: tuple[Term, ...] = Field(min_length=1)
    franchise: tuple[Term, ...] = ()
    sequel_words: Annotated[dict[LanguageCode, tuple[Term, ...]], AfterValidator(_freeze)] = Field(
        default_factory=FrozenWords
    )
    people: tuple[Term, ...] = ()
    places: tuple[Term, ...] = ()
    # a person or place of people/places -> how other scripts write it ("Rosa Salazar" ->
    # "ローサ・サラザール"): one name when telling which articles report the same news
    spellings: Annotated[dict[Term, tuple[Term, ...]], AfterValidator(_freeze)] = Field(
        default_factory=FrozenWords
    )
    broad_terms: tuple[Term, ...] = Field(min_length=1)
    # words that name an outlet after the film's world besides the broad terms ("Scrapyard
    # Forums"): too common to pre-filter feeds with, telling in an outlet's name
    outlet_words: tuple[Term, ...] = ()
    traps: tuple[TrapGroup, ...] = ()
    relevance: RelevanceSettings = RelevanceSettings()
    categories: Annotated[dict[CategoryName, Category], AfterValidator(_freeze_categories)] = Field(
        default_factory=FrozenCategories
    )
    classify: ClassifySettings = ClassifySettings()
    facts: FactVocabulary = FactVocabulary()
    # a model learned from labelled articles (pipeline.model, made by pipeline.train): a file
    # named relative to the topic file. With one, it decides relevance and categories and
    # the rules above give the evidence; without, the rules decide.
    model: str | None = None
    # the hash, with the identities of the values it was worked out from
    _hash: tuple[tuple[int, ...], int] | None = PrivateAttr(default=None)

    def __hash__(self) -> int:
        """The topic's hash, worked out once: the topic keys every cache of compiled patterns
        and of readings, and hashing all its words took 5 % of reading a page. A copy with
        other values (model_copy) hashes them anew."""
        values = tuple(self.__dict__.values())
        identities = tuple(map(id, values))
        if self._hash is None or self._hash[0] != identities:
            self._hash = (identities, hash(values))
        return self._hash[1]

    def __eq__(self, other: object) -> bool:
        """Topics with equal values are equal, whether or not either was hashed yet."""
        if not isinstance(other, Topic):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __getstate__(self) -> dict[Any, Any]:
        """Pickled without its hash (a reader process gets the topic pickled): another
        process hashes strings differently."""
        state = super().__getstate__()
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, "_hash": None}
        return state

    @model_validator(mode="after")
    def _spellings_of_listed_names(self) -> Topic:
        """Refuse other spellings of a name that people and places do not list."""
        listed = {*self.people, *self.places}
        unknown = sorted(name for name in self.spellings if name not in listed)
        if unknown:
            raise PydanticCustomError(
                "unknown_name",
                "spellings of names listed in people or places (not listed: {names})",
                {"names": ", ".join(unknown)},
            )
        return self

    @field_validator("traps")
    @classmethod
    def _unique_trap_names(cls, traps: tuple[TrapGroup, ...]) -> tuple[TrapGroup, ...]:
        """Refuse two trap groups with one name: reasons would be ambiguous."""
        names = [trap.name for trap in traps]
        doubles = sorted({name for name in names if names.count(name) > 1})
        if doubles:
            raise PydanticCustomError(
                "duplicate_trap",
                "unique trap names (repeated: {names})",
                {"names": ", ".join(doubles)},
            )
        return traps


def load_topic(path: Path) -> Topic:
    """Read and validate one topic TOML file; raise ConfigError naming the file and key."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: topic file not found") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read topic file ({err.strerror})") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML ({err})") from err
    model = data.get("model")
    if isinstance(model, str):
        found = (path.parent / model).resolve()
        if not found.is_file():
            raise ConfigError(f"{path}: model: file not found: {found}")
        data["model"] = str(found)
    try:
        return Topic.model_validate(data)
    except ValidationError as err:
        raise from_validation(path, err) from err
