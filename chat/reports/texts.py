"""The reports' human texts in the reader's language (issue 18): table titles, column
labels, notes, chart titles, legends, the names of rows the server makes up ("Unassigned",
"Monday") and the CSV headers. Pure: a table of strings and a lookup.

The key of a text is its English wording (the report modules keep writing English, which
is also what ``lang=en`` answers), so a report module reads as before and a text missing
here stays English rather than becoming a raw key. A text with ``{placeholders}`` is
formatted after the lookup (:func:`tr`). ``tests/chat/reports/test_texts.py`` checks that
every text has every language with the same placeholders, and that no report answers a
heading in ``ru`` that is still its English wording.

Numbers, dates and durations are not translated here: the page formats those itself (and
the instants inside a note stay ISO 8601, which the page finds and formats).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

# chat.validation.LANGUAGES, in the same order (a test holds them equal; this module stays pure).
LANGUAGES = ("en", "pt-BR", "de", "es", "ru")
DEFAULT = "en"

# English wording -> (pt-BR, de, es, ru).
_TEXTS: dict[str, tuple[str, str, str, str]] = {
    # -- shared column labels and row names ---------------------------------------------
    "Agent": ("Agente", "Agent", "Agente", "Агент"),
    "Agent id": ("ID do agente", "Agenten-ID", "ID del agente", "ID агента"),
    "Assignee": ("Responsável", "Zuständig", "Responsable", "Ответственный"),
    "Assignee id": ("ID do responsável", "ID des Zuständigen", "ID del responsable", "ID ответственного"),
    "Category": ("Categoria", "Kategorie", "Categoría", "Категория"),
    "Category key": ("Chave da categoria", "Kategorie-Schlüssel", "Clave de categoría", "Ключ категории"),
    "Channel": ("Canal", "Kanal", "Canal", "Канал"),
    "Closed": ("Fechados", "Geschlossen", "Cerrados", "Закрыто"),
    "Comment": ("Comentário", "Kommentar", "Comentario", "Комментарий"),
    "Company": ("Empresa", "Firma", "Empresa", "Компания"),
    "Company id": ("ID da empresa", "Firmen-ID", "ID de la empresa", "ID компании"),
    "Created": ("Criados", "Erstellt", "Creados", "Создано"),
    "Group key": ("Chave do grupo", "Gruppen-Schlüssel", "Clave del grupo", "Ключ группы"),
    "Messages": ("Mensagens", "Nachrichten", "Mensajes", "Сообщения"),
    "Name": ("Nome", "Name", "Nombre", "Название"),
    "Open tickets": ("Tickets abertos", "Offene Tickets", "Tickets abiertos", "Открытые тикеты"),
    "Policy": ("Política", "Richtlinie", "Política", "Политика"),
    "Rating": ("Avaliação", "Bewertung", "Valoración", "Оценка"),
    "Reopened": ("Reabertos", "Wieder geöffnet", "Reabiertos", "Открыто повторно"),
    "Resolved": ("Resolvidos", "Gelöst", "Resueltos", "Решено"),
    "Severity": ("Gravidade", "Schweregrad", "Gravedad", "Важность"),
    "Site id": ("ID do site", "Website-ID", "ID del sitio", "ID сайта"),
    "Status": ("Status", "Status", "Estado", "Статус"),
    "Subject": ("Assunto", "Betreff", "Asunto", "Тема"),
    "Target": ("Meta", "Ziel", "Objetivo", "Цель"),
    "Ticket": ("Ticket", "Ticket", "Ticket", "Тикет"),
    "Tickets": ("Tickets", "Tickets", "Tickets", "Тикеты"),
    "Total": ("Total", "Gesamt", "Total", "Итого"),
    # -- breakdown ------------------------------------------------------------------------
    "By agent": ("Por agente", "Nach Agent", "Por agente", "По агентам"),
    "By status": ("Por status", "Nach Status", "Por estado", "По статусам"),
    "By category": ("Por categoria", "Nach Kategorie", "Por categoría", "По категориям"),
    "By severity": ("Por gravidade", "Nach Schweregrad", "Por gravedad", "По важности"),
    "By channel": ("Por canal", "Nach Kanal", "Por canal", "По каналам"),
    "By rating": ("Por avaliação", "Nach Bewertung", "Por valoración", "По оценкам"),
    "By site": ("Por site", "Nach Website", "Por sitio", "По сайтам"),
    "By company": ("Por empresa", "Nach Firma", "Por empresa", "По компаниям"),
    "By support group": ("Por grupo de suporte", "Nach Support-Gruppe", "Por grupo de soporte",
                         "По группам поддержки"),
    "Open at the end": ("Abertos no fim", "Am Ende offen", "Abiertos al final", "Открыто на конец"),
    "Tickets by agent": ("Tickets por agente", "Tickets nach Agent", "Tickets por agente", "Тикеты по агентам"),
    "Tickets by status": ("Tickets por status", "Tickets nach Status", "Tickets por estado", "Тикеты по статусам"),
    "Tickets by category": ("Tickets por categoria", "Tickets nach Kategorie", "Tickets por categoría",
                            "Тикеты по категориям"),
    "Tickets by channel": ("Tickets por canal", "Tickets nach Kanal", "Tickets por canal", "Тикеты по каналам"),
    "Tickets by rating": ("Tickets por avaliação", "Tickets nach Bewertung", "Tickets por valoración",
                          "Тикеты по оценкам"),
    # -- the names of rows without a stored name (chat.reports.selection.label_of) --------
    "Unassigned": ("Sem responsável", "Nicht zugewiesen", "Sin asignar", "Не назначен"),
    "First line": ("Primeira linha", "First Level", "Primera línea", "Первая линия"),
    "No category": ("Sem categoria", "Keine Kategorie", "Sin categoría", "Без категории"),
    "No severity": ("Sem gravidade", "Kein Schweregrad", "Sin gravedad", "Без важности"),
    "No site": ("Sem site", "Keine Website", "Sin sitio", "Без сайта"),
    "No company": ("Sem empresa", "Keine Firma", "Sin empresa", "Без компании"),
    "None": ("Nenhum", "Keine", "Ninguno", "Нет"),
    "Severity {n}": ("Gravidade {n}", "Schweregrad {n}", "Gravedad {n}", "Важность {n}"),
    "New": ("Novo", "Neu", "Nuevo", "Новый"),
    "In progress": ("Em andamento", "In Bearbeitung", "En curso", "В работе"),
    "Waiting on customer": ("Aguardando o cliente", "Wartet auf Kunden", "Esperando al cliente",
                            "Ожидает клиента"),
    "Proposed to close": ("Proposto para fechar", "Zum Schließen vorgeschlagen", "Propuesto para cerrar",
                          "Предложено закрыть"),
    "Chat": ("Chat", "Chat", "Chat", "Чат"),
    "Widget offline": ("Widget offline", "Widget offline", "Widget sin conexión", "Виджет офлайн"),
    "Web": ("Web", "Web", "Web", "Веб"),
    "Email": ("E-mail", "E-Mail", "Correo electrónico", "Эл. почта"),
    "Phone": ("Telefone", "Telefon", "Teléfono", "Телефон"),
    "Group chat": ("Chat em grupo", "Gruppenchat", "Chat de grupo", "Групповой чат"),
    "Api": ("API", "API", "API", "API"),
    # -- ratings --------------------------------------------------------------------------
    "Good": ("Boa", "Gut", "Buena", "Хорошо"),
    "Bad": ("Ruim", "Schlecht", "Mala", "Плохо"),
    "No rating": ("Sem avaliação", "Keine Bewertung", "Sin valoración", "Без оценки"),
    "Good share": ("Parcela boa", "Anteil gut", "Proporción buena", "Доля «хорошо»"),
    "No rating share": ("Parcela sem avaliação", "Anteil ohne Bewertung", "Proporción sin valoración",
                        "Доля без оценки"),
    "Bad share": ("Parcela ruim", "Anteil schlecht", "Proporción mala", "Доля «плохо»"),
    "Reason": ("Motivo", "Grund", "Motivo", "Причина"),
    "Rated at": ("Avaliado em", "Bewertet am", "Valorado el", "Дата оценки"),
    "Reasons and comments": ("Motivos e comentários", "Gründe und Kommentare", "Motivos y comentarios",
                             "Причины и комментарии"),
    "Tickets resolved in the range, by their latest rating.": (
        "Tickets resolvidos no período, pela avaliação mais recente.",
        "Im Zeitraum gelöste Tickets, nach ihrer letzten Bewertung.",
        "Tickets resueltos en el periodo, según su última valoración.",
        "Тикеты, решённые за период, по их последней оценке."),
    "The newest {n} at most.": ("No máximo os {n} mais recentes.", "Höchstens die {n} neuesten.",
                                "Como máximo los {n} más recientes.", "Не более {n} самых новых."),
    "Ratings by agent": ("Avaliações por agente", "Bewertungen nach Agent", "Valoraciones por agente",
                         "Оценки по агентам"),
    # -- SLA ------------------------------------------------------------------------------
    "First response": ("Primeira resposta", "Erste Antwort", "Primera respuesta", "Первый ответ"),
    "Next response": ("Próxima resposta", "Nächste Antwort", "Siguiente respuesta", "Следующий ответ"),
    "Resolution": ("Resolução", "Lösung", "Resolución", "Решение"),
    "met": ("cumprida", "eingehalten", "cumplido", "соблюдено"),
    "breached": ("violada", "verletzt", "incumplido", "нарушено"),
    "met share": ("parcela cumprida", "Anteil eingehalten", "proporción cumplida", "доля соблюдённых"),
    "Due at": ("Prazo", "Fällig am", "Vence el", "Срок"),
    "Time left": ("Tempo restante", "Verbleibende Zeit", "Tiempo restante", "Осталось времени"),
    "Per policy": ("Por política", "Nach Richtlinie", "Por política", "По политикам"),
    "Breached tickets": ("Tickets com violação", "Tickets mit Verletzung", "Tickets incumplidos",
                         "Тикеты с нарушением"),
    "Open tickets by time left": ("Tickets abertos por tempo restante", "Offene Tickets nach verbleibender Zeit",
                                  "Tickets abiertos por tiempo restante", "Открытые тикеты по оставшемуся времени"),
    "Tickets created in the range; the met share of a target is met / (met + breached).": (
        "Tickets criados no período; a parcela cumprida de uma meta é cumpridas / (cumpridas + violadas).",
        "Im Zeitraum erstellte Tickets; der eingehaltene Anteil eines Ziels ist eingehalten / "
        "(eingehalten + verletzt).",
        "Tickets creados en el periodo; la proporción cumplida de un objetivo es cumplidos / "
        "(cumplidos + incumplidos).",
        "Тикеты, созданные за период; доля соблюдённых по цели — соблюдено / (соблюдено + нарушено)."),
    "The newest {n} of {total} tickets with a breach; the ticket list (metric=breached) has them all.": (
        "Os {n} mais recentes de {total} tickets com violação; a lista de tickets (metric=breached) tem todos.",
        "Die {n} neuesten von {total} Tickets mit Verletzung; die Ticketliste (metric=breached) enthält alle.",
        "Los {n} más recientes de {total} tickets incumplidos; la lista de tickets (metric=breached) los tiene "
        "todos.",
        "{n} самых новых из {total} тикетов с нарушением; в списке тикетов (metric=breached) есть все."),
    "Live, at {at}; a negative time left is overdue. At most {n}.": (
        "Ao vivo, em {at}; um tempo restante negativo está atrasado. No máximo {n}.",
        "Live, Stand {at}; eine negative verbleibende Zeit ist überfällig. Höchstens {n}.",
        "En vivo, a las {at}; un tiempo restante negativo está vencido. Como máximo {n}.",
        "Сейчас, на {at}; отрицательное оставшееся время — просрочка. Не более {n}."),
    "Met share per policy": ("Parcela cumprida por política", "Eingehaltener Anteil nach Richtlinie",
                             "Proporción cumplida por política", "Доля соблюдённых по политикам"),
    # -- times ----------------------------------------------------------------------------
    "First response, wall clock": ("Primeira resposta, tempo corrido", "Erste Antwort, Kalenderzeit",
                                   "Primera respuesta, tiempo real", "Первый ответ, календарное время"),
    "First response, business time": ("Primeira resposta, horário comercial", "Erste Antwort, Geschäftszeit",
                                       "Primera respuesta, horario laboral", "Первый ответ, рабочее время"),
    "Resolution, wall clock": ("Resolução, tempo corrido", "Lösung, Kalenderzeit", "Resolución, tiempo real",
                               "Решение, календарное время"),
    "Resolution, business time": ("Resolução, horário comercial", "Lösung, Geschäftszeit",
                                  "Resolución, horario laboral", "Решение, рабочее время"),
    "First agent answer in live chats": ("Primeira resposta de agente em chats ao vivo",
                                         "Erste Agentenantwort in Live-Chats",
                                         "Primera respuesta de un agente en chats en vivo",
                                         "Первый ответ агента в живых чатах"),
    "mean": ("média", "Mittelwert", "media", "среднее"),
    "median": ("mediana", "Median", "mediana", "медиана"),
    "90th percentile": ("percentil 90", "90. Perzentil", "percentil 90", "90-й процентиль"),
    "Measure key": ("Chave da medida", "Messgrößen-Schlüssel", "Clave de la medida", "Ключ показателя"),
    "Measure": ("Medida", "Messgröße", "Medida", "Показатель"),
    "Mean": ("Média", "Mittelwert", "Media", "Среднее"),
    "Median": ("Mediana", "Median", "Mediana", "Медиана"),
    "Responded": ("Respondidos", "Beantwortet", "Respondidos", "С ответом"),
    "Overall": ("Geral", "Gesamt", "General", "В целом"),
    "First response: median and 90th percentile": (
        "Primeira resposta: mediana e percentil 90", "Erste Antwort: Median und 90. Perzentil",
        "Primera respuesta: mediana y percentil 90", "Первый ответ: медиана и 90-й процентиль"),
    "Resolution: median and 90th percentile": (
        "Resolução: mediana e percentil 90", "Lösung: Median und 90. Perzentil",
        "Resolución: mediana y percentil 90", "Решение: медиана и 90-й процентиль"),
    "Median first response by agent (business time)": (
        "Mediana da primeira resposta por agente (horário comercial)",
        "Median der ersten Antwort nach Agent (Geschäftszeit)",
        "Mediana de la primera respuesta por agente (horario laboral)",
        "Медиана первого ответа по агентам (рабочее время)"),
    "Median resolution by agent (business time)": (
        "Mediana da resolução por agente (horário comercial)", "Median der Lösung nach Agent (Geschäftszeit)",
        "Mediana de la resolución por agente (horario laboral)", "Медиана решения по агентам (рабочее время)"),
    # -- volume ---------------------------------------------------------------------------
    "Day": ("Dia", "Tag", "Día", "День"),
    "Open at day end": ("Abertos no fim do dia", "Offen am Tagesende", "Abiertos al final del día",
                        "Открыто на конец дня"),
    "Chats started": ("Chats iniciados", "Begonnene Chats", "Chats iniciados", "Начато чатов"),
    "Answered live": ("Respondidos ao vivo", "Live beantwortet", "Respondidos en vivo", "Отвечено в чате"),
    "Converted to tickets": ("Convertidos em tickets", "In Tickets umgewandelt", "Convertidos en tickets",
                             "Преобразовано в тикеты"),
    "Per day": ("Por dia", "Pro Tag", "Por día", "По дням"),
    "Days are local days in the report's time zone; the totals' backlog is the last day's.": (
        "Os dias são dias locais no fuso horário do relatório; o acumulado do total é o do último dia.",
        "Tage sind lokale Tage in der Zeitzone des Berichts; der offene Bestand der Summe ist der des letzten "
        "Tages.",
        "Los días son días locales en la zona horaria del informe; los pendientes del total son los del último "
        "día.",
        "Дни — местные дни в часовом поясе отчёта; открытые в итоге — на конец последнего дня."),
    "Tickets per day": ("Tickets por dia", "Tickets pro Tag", "Tickets por día", "Тикеты по дням"),
    "Open tickets at the end of each day": ("Tickets abertos no fim de cada dia", "Offene Tickets am Ende jedes Tages",
                                            "Tickets abiertos al final de cada día", "Открытые тикеты на конец каждого дня"),
    "Support chats per day": ("Chats de suporte por dia", "Support-Chats pro Tag", "Chats de soporte por día",
                              "Чаты поддержки по дням"),
    "Messages per day": ("Mensagens por dia", "Nachrichten pro Tag", "Mensajes por día", "Сообщения по дням"),
    # -- messages -------------------------------------------------------------------------
    "Share": ("Parcela", "Anteil", "Proporción", "Доля"),
    "Tickets resolved": ("Tickets resolvidos", "Gelöste Tickets", "Tickets resueltos", "Решено тикетов"),
    "Messages per resolution": ("Mensagens por resolução", "Nachrichten pro Lösung", "Mensajes por resolución",
                                "Сообщений на решение"),
    "Summary": ("Resumo", "Übersicht", "Resumen", "Сводка"),
    "Tickets resolved in the range, by the public messages of their conversation.": (
        "Tickets resolvidos no período, pelas mensagens públicas da sua conversa.",
        "Im Zeitraum gelöste Tickets, nach den öffentlichen Nachrichten ihrer Unterhaltung.",
        "Tickets resueltos en el periodo, según los mensajes públicos de su conversación.",
        "Тикеты, решённые за период, по числу публичных сообщений в их переписке."),
    # -- heatmap --------------------------------------------------------------------------
    "Weekday key": ("Chave do dia da semana", "Wochentag-Schlüssel", "Clave del día de la semana",
                    "Ключ дня недели"),
    "Weekday": ("Dia da semana", "Wochentag", "Día de la semana", "День недели"),
    "Monday": ("Segunda-feira", "Montag", "Lunes", "Понедельник"),
    "Tuesday": ("Terça-feira", "Dienstag", "Martes", "Вторник"),
    "Wednesday": ("Quarta-feira", "Mittwoch", "Miércoles", "Среда"),
    "Thursday": ("Quinta-feira", "Donnerstag", "Jueves", "Четверг"),
    "Friday": ("Sexta-feira", "Freitag", "Viernes", "Пятница"),
    "Saturday": ("Sábado", "Samstag", "Sábado", "Суббота"),
    "Sunday": ("Domingo", "Sonntag", "Domingo", "Воскресенье"),
    "Messages by weekday and hour": ("Mensagens por dia da semana e hora", "Nachrichten nach Wochentag und Stunde",
                                     "Mensajes por día de la semana y hora", "Сообщения по дням недели и часам"),
    "Local weekdays and hours in the report's time zone.": (
        "Dias da semana e horas locais no fuso horário do relatório.",
        "Lokale Wochentage und Stunden in der Zeitzone des Berichts.",
        "Días de la semana y horas locales en la zona horaria del informe.",
        "Местные дни недели и часы в часовом поясе отчёта."),
    # -- now ------------------------------------------------------------------------------
    "Open live chats": ("Chats ao vivo abertos", "Offene Live-Chats", "Chats en vivo abiertos", "Открытые чаты"),
    "Waiting for a first answer": ("Aguardando a primeira resposta", "Warten auf eine erste Antwort",
                                   "Esperando una primera respuesta", "Ждут первого ответа"),
    "Longest wait": ("Maior espera", "Längste Wartezeit", "Espera más larga", "Самое долгое ожидание"),
    "Agents online": ("Agentes online", "Agenten online", "Agentes en línea", "Агенты в сети"),
    "Live chats": ("Chats ao vivo", "Live-Chats", "Chats en vivo", "Чаты"),
    "Now": ("Agora", "Jetzt", "Ahora", "Сейчас"),
    "Live, at {at}.": ("Ao vivo, em {at}.", "Live, Stand {at}.", "En vivo, a las {at}.", "Сейчас, на {at}."),
    "Load per agent": ("Carga por agente", "Last pro Agent", "Carga por agente", "Нагрузка на агента"),
    # -- the tickets' CSV (chat.reports.drill.CSV_HEADER) --------------------------------
    "Created at (UTC)": ("Criado em (UTC)", "Erstellt am (UTC)", "Creado el (UTC)", "Создан (UTC)"),
    "Resolved at (UTC)": ("Resolvido em (UTC)", "Gelöst am (UTC)", "Resuelto el (UTC)", "Решён (UTC)"),
    "Closed at (UTC)": ("Fechado em (UTC)", "Geschlossen am (UTC)", "Cerrado el (UTC)", "Закрыт (UTC)"),
    "First response, wall clock (s)": ("Primeira resposta, tempo corrido (s)", "Erste Antwort, Kalenderzeit (s)",
                                       "Primera respuesta, tiempo real (s)", "Первый ответ, календарное время (с)"),
    "First response, business time (s)": ("Primeira resposta, horário comercial (s)",
                                          "Erste Antwort, Geschäftszeit (s)", "Primera respuesta, horario laboral (s)",
                                          "Первый ответ, рабочее время (с)"),
    "Resolution, wall clock (s)": ("Resolução, tempo corrido (s)", "Lösung, Kalenderzeit (s)",
                                   "Resolución, tiempo real (s)", "Решение, календарное время (с)"),
    "Resolution, business time (s)": ("Resolução, horário comercial (s)", "Lösung, Geschäftszeit (s)",
                                      "Resolución, horario laboral (s)", "Решение, рабочее время (с)"),
    "Business calendar": ("Calendário comercial", "Geschäftskalender", "Calendario laboral", "Рабочий календарь"),
    "SLA policy": ("Política de SLA", "SLA-Richtlinie", "Política de SLA", "Политика SLA"),
    "SLA first response": ("SLA primeira resposta", "SLA erste Antwort", "SLA primera respuesta",
                           "SLA первый ответ"),
    "SLA next response": ("SLA próxima resposta", "SLA nächste Antwort", "SLA siguiente respuesta",
                          "SLA следующий ответ"),
    "SLA resolution": ("SLA resolução", "SLA Lösung", "SLA resolución", "SLA решение"),
    # the report CSV's first header: which table a line belongs to
    "table": ("tabela", "Tabelle", "tabla", "таблица"),
    # -- inside the charts (chat.reports.charts) -----------------------------------------
    "No data": ("Sem dados", "Keine Daten", "Sin datos", "Нет данных"),
    "n/a": ("n/d", "k. A.", "n/d", "н/д"),
}

CATALOG: dict[str, dict[str, str]] = {
    DEFAULT: {text: text for text in _TEXTS},
    **{lang: {text: row[i] for text, row in _TEXTS.items()} for i, lang in enumerate(LANGUAGES[1:])},
}

_FIELDS = string.Formatter()
_PAIR = re.compile(r"^(?P<head>[^:]+): (?P<tail>[^:]+)$")


def placeholders(text: str) -> set[str]:
    """The ``{names}`` in ``text`` (the test holds them equal across languages)."""
    return {name for _, name, _, _ in _FIELDS.parse(text) if name}


def tr(lang: str, text: str, **params: object) -> str:
    """``text`` (its English wording) in ``lang``, with ``params`` filled in. A text the
    catalog lacks comes back as it is (English, or a name a person gave)."""
    found = CATALOG.get(lang, CATALOG[DEFAULT]).get(text, text)
    return found.format(**params) if params else found


def label(lang: str, text: str) -> str:
    """A heading or label in ``lang``: the whole text if the catalog has it, else a
    composed "<measure>: <statistic>" (``First response, wall clock: median``,
    ``Resolution: met share``) translated part by part."""
    table: Mapping[str, str] = CATALOG.get(lang, CATALOG[DEFAULT])
    if text in table:
        return table[text]
    pair = _PAIR.match(text)
    if pair and pair["head"] in table and pair["tail"] in table:
        return f"{table[pair['head']]}: {table[pair['tail']]}"
    return text
