export default {
"en": {
  "names.visitor": "Visitor #{id}",
  "names.visitor_unknown": "Visitor",
  "names.nobody": "—"
},
"pt-BR": {
  "names.visitor": "Visitante nº {id}",
  "names.visitor_unknown": "Visitante",
  "names.nobody": "—"
},
"de": {
  "names.visitor": "Besucher Nr. {id}",
  "names.visitor_unknown": "Besucher",
  "names.nobody": "—"
},
"es": {
  "names.visitor": "Visitante n.º {id}",
  "names.visitor_unknown": "Visitante",
  "names.nobody": "—"
},
"ru": {
  "names.visitor": "Посетитель № {id}",
  "names.visitor_unknown": "Посетитель",
  "names.nobody": "—"
}
};
