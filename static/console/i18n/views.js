export default {
"en": {
  "views.label": "Show",
  "views.mine": "Mine",
  "views.unassigned": "Unassigned",
  "views.all": "All",
  "views.saved_failed": "The view was not saved: {error}"
},
"pt-BR": {
  "views.label": "Mostrar",
  "views.mine": "Meus",
  "views.unassigned": "Sem responsável",
  "views.all": "Todos",
  "views.saved_failed": "A visualização não foi salva: {error}"
},
"de": {
  "views.label": "Anzeigen",
  "views.mine": "Meine",
  "views.unassigned": "Nicht zugewiesen",
  "views.all": "Alle",
  "views.saved_failed": "Die Ansicht wurde nicht gespeichert: {error}"
},
"es": {
  "views.label": "Mostrar",
  "views.mine": "Míos",
  "views.unassigned": "Sin asignar",
  "views.all": "Todos",
  "views.saved_failed": "La vista no se guardó: {error}"
},
"ru": {
  "views.label": "Показать",
  "views.mine": "Мои",
  "views.unassigned": "Без исполнителя",
  "views.all": "Все",
  "views.saved_failed": "Вид не сохранён: {error}"
}
};
